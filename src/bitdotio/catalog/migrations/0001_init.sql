-- Users, their API keys (hashes only), databases, grants and name reservations.
CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL,
    role_name text NOT NULL UNIQUE,          -- the principal's opaque LOGIN role
    date_created timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash bytea NOT NULL UNIQUE,          -- sha256 of the whole key; keys are random
    date_created timestamptz NOT NULL DEFAULT now(),
    date_revoked timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE databases (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES users (id),
    name text NOT NULL,                      -- the database part of owner/name
    is_private boolean NOT NULL DEFAULT true,
    storage_limit_bytes bigint NOT NULL CHECK (storage_limit_bytes > 0),
    date_created timestamptz NOT NULL DEFAULT now(),
    physical_name text NOT NULL UNIQUE       -- the opaque Postgres database name
);
CREATE UNIQUE INDEX databases_owner_name_key ON databases (owner_id, lower(name));

CREATE TABLE database_grants (
    database_id uuid NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'WRITER', 'READER')),
    PRIMARY KEY (database_id, user_id)
);

-- A name stays reserved after a delete (database_id NULL) or a rename (database_id is the
-- renamed database, which stays reachable under the old name) until reserved_until.
CREATE TABLE name_reservations (
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    database_id uuid REFERENCES databases (id) ON DELETE SET NULL,
    reserved_until timestamptz NOT NULL
);
CREATE UNIQUE INDEX name_reservations_key ON name_reservations (owner_id, lower(name));
