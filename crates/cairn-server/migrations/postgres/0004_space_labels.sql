-- Each space's label (docs/sharing.md): the shared notebook's id and name
-- sealed under an epoch key of the space by its owner, so an invitee sees
-- what they are invited to. Opaque to the service.
CREATE TABLE space_labels (
    space_id TEXT PRIMARY KEY REFERENCES spaces(space_id),
    label TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
