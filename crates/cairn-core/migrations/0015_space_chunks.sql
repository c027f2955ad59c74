-- Cairn store, schema 15: chunks another account named.
--
-- A chunk downloaded from a shared notebook's storage is named by the
-- account that attached it (an HMAC under that account's key), which
-- this device cannot recompute. It was opened under the space's seal,
-- which binds it to that name; the SHA-256 of the plaintext that opened
-- is kept here, so reading the file back later is checked against it as
-- a chunk of this account's own is checked against its name.
CREATE TABLE blob_checked (
    chunk_id TEXT PRIMARY KEY,
    sha256 BLOB NOT NULL
);
