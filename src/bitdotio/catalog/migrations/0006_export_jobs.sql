-- Export jobs: what to read (a query or a table), as whom, in which format, and the file.
CREATE TABLE export_jobs (
    id uuid PRIMARY KEY,
    database_id uuid NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,  -- reads as this user's role
    export_format text NOT NULL CHECK (export_format IN ('csv', 'json', 'xls', 'parquet')),
    query_string text,
    schema_name text,
    table_name text,
    file_name text NOT NULL,
    escape_formulas boolean NOT NULL DEFAULT true,
    state text NOT NULL DEFAULT 'RECEIVED'
        CHECK (state IN ('RECEIVED', 'PROCESSING', 'DONE', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    queue_job_id bigint,
    date_created timestamptz NOT NULL DEFAULT now(),
    date_finished timestamptz,
    error_type text,
    error_id uuid,
    error_details jsonb,
    file_key text,                           -- the file in the file store, until it expires
    size_bytes bigint,
    row_count bigint,
    expires_at timestamptz,                  -- the download link's and the file's end
    CHECK ((query_string IS NULL) <> (table_name IS NULL)),
    CHECK ((table_name IS NULL) = (schema_name IS NULL))
);
CREATE INDEX export_jobs_database_idx ON export_jobs (database_id);
CREATE INDEX export_jobs_expiring_idx ON export_jobs (expires_at) WHERE file_key IS NOT NULL;
CREATE INDEX export_jobs_finished_idx ON export_jobs (date_finished) WHERE date_finished IS NOT NULL;

-- Secrets every API process of one catalog shares (the download links' signing key).
CREATE TABLE platform_secrets (
    name text PRIMARY KEY,
    secret bytea NOT NULL
);
