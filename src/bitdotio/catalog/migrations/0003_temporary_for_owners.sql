-- Owners may create temporary tables (wire clients expect them): databases created before
-- this release get the TEMPORARY grant that cluster/provisioning.py now gives new ones.
-- GRANT ON DATABASE touches the shared catalog, so it can run from here.
DO $$
DECLARE
    physical text;
BEGIN
    FOR physical IN SELECT d.physical_name FROM databases d
        JOIN pg_catalog.pg_database pd ON pd.datname = d.physical_name
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT TEMPORARY ON DATABASE %I TO %I', physical, physical || '_owner'
        );
    END LOOP;
END
$$;
