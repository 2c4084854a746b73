-- Import jobs. The queue itself is procrastinate's (its own tables, installed beside these);
-- this row is what the API reports and what makes a retried job idempotent.
CREATE TABLE import_jobs (
    id uuid PRIMARY KEY,
    database_id uuid NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,  -- runs as this user's role
    table_name text NOT NULL,
    schema_name text NOT NULL,
    infer_header text NOT NULL CHECK (infer_header IN ('auto', 'first_row', 'no_header')),
    upload_key text,                         -- the uploaded file in the file store
    file_url text,                           -- or the URL to download
    state text NOT NULL DEFAULT 'RECEIVED'
        CHECK (state IN ('RECEIVED', 'PROCESSING', 'DONE', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,     -- retries = attempts - 1
    queue_job_id bigint,                     -- procrastinate_jobs.id once deferred
    load_xid xid8,                           -- the tenant transaction that loads the rows
    date_created timestamptz NOT NULL DEFAULT now(),
    date_finished timestamptz,
    error_type text,
    error_id uuid,
    error_details jsonb,
    result jsonb,                            -- tables loaded, rows, skipped objects
    CHECK ((upload_key IS NULL) <> (file_url IS NULL))
);
CREATE INDEX import_jobs_database_idx ON import_jobs (database_id);
CREATE INDEX import_jobs_unqueued_idx ON import_jobs (date_created)
    WHERE state = 'RECEIVED' AND queue_job_id IS NULL;
CREATE INDEX import_jobs_finished_idx ON import_jobs (date_finished) WHERE date_finished IS NOT NULL;
