-- Keys can expire, show a non-secret prefix, and remember when they were last used.
ALTER TABLE api_keys
    ADD COLUMN prefix text,                  -- "v2_" + the first 5 characters; NULL for old keys
    ADD COLUMN expires_at timestamptz,       -- NULL: never
    ADD COLUMN last_used_at timestamptz;     -- written at most about once a minute per key

-- last_used_at changes often and decides nothing: only changes that matter to authentication
-- are announced (migration 0002), so caches are not emptied on every use of a key.
DROP TRIGGER api_keys_changed ON api_keys;
CREATE TRIGGER api_keys_changed
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF key_hash, user_id, date_revoked, expires_at
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
