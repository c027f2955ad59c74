-- Cairn store, schema 5: a peer's last error keeps its code beside its words,
-- so what the status says is decided from the code, never from the text.
ALTER TABLE sync_peer ADD COLUMN last_error_code TEXT;
-- Errors kept by an older version have no code; the next round that reads
-- the peer finds them again (a bad object is still there), so forget them.
UPDATE sync_peer SET last_error = NULL;
