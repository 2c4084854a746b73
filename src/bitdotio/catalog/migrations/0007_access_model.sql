-- The access model: collaborators' grants carry a date; read-only keys, which log in as their
-- user's read-only twin role; service accounts, principals of their own with a scope.
ALTER TABLE database_grants ADD COLUMN date_granted timestamptz NOT NULL DEFAULT now();

ALTER TABLE users ADD COLUMN ro_role_name text UNIQUE;  -- made with the first read-only key

CREATE TABLE service_accounts (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,  -- the creating user
    name text NOT NULL,
    role_name text NOT NULL UNIQUE,          -- its own opaque LOGIN role
    date_created timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX service_accounts_owner_name_key ON service_accounts (owner_id, lower(name));

-- Its scope: a role on each database it may reach (never more than its owner's).
CREATE TABLE service_account_databases (
    service_account_id uuid NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    database_id uuid NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('ADMIN', 'WRITER', 'READER')),
    PRIMARY KEY (service_account_id, database_id)
);
CREATE INDEX service_account_databases_db_idx ON service_account_databases (database_id);

-- A key belongs to its user; a service account's key also names the service account, and
-- acts as it (user_id is then the service account's owner).
ALTER TABLE api_keys
    ADD COLUMN read_only boolean NOT NULL DEFAULT false,
    ADD COLUMN service_account_id uuid REFERENCES service_accounts (id) ON DELETE CASCADE;
CREATE INDEX api_keys_service_account_idx ON api_keys (service_account_id)
    WHERE service_account_id IS NOT NULL;

CREATE TRIGGER service_accounts_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
CREATE TRIGGER service_account_databases_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_account_databases
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();

-- A job acts with the rights of the key that started it, checked again when it runs: a key
-- revoked in between, or a right taken away, stops the job.
ALTER TABLE import_jobs ADD COLUMN key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
ALTER TABLE export_jobs ADD COLUMN key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
