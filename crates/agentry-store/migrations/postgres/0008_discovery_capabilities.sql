-- Kept in step with migrations/sqlite/0008_discovery_capabilities.sql (tests compare the schemas).
-- (Supersedes the note in 0007: capabilities are cached here rather than derived on every run;
-- measured in BENCHMARKS.md "Discovery".)
-- Capabilities (discovery.md §2) are derived from nodes and edges by agentry-core and cached
-- on the workflow. Any change to a workflow's nodes or edges, by whatever path, clears the
-- cache and bumps the version in the same transaction (these triggers); discovery recomputes
-- cleared rows and writes them back only if the version is still the one it read.
ALTER TABLE workflows ADD COLUMN capabilities JSONB;
ALTER TABLE workflows ADD COLUMN capabilities_version BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION workflows_caps_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1
        WHERE id = OLD.workflow_id;
    ELSE
        UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1
        WHERE id = NEW.workflow_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER nodes_caps_stale AFTER INSERT OR UPDATE OR DELETE ON nodes
    FOR EACH ROW EXECUTE FUNCTION workflows_caps_stale();
CREATE TRIGGER edges_caps_stale AFTER INSERT OR UPDATE OR DELETE ON edges
    FOR EACH ROW EXECUTE FUNCTION workflows_caps_stale();
