-- Every change to what authentication and database resolution read is announced on the
-- channel bitio_catalog (at commit), so API processes can drop their cached lookups.
CREATE FUNCTION notify_catalog_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('bitio_catalog', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
CREATE TRIGGER databases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON databases
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
CREATE TRIGGER database_grants_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON database_grants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
CREATE TRIGGER name_reservations_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON name_reservations
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
