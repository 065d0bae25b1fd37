-- Kept in step with migrations/postgres/0008_discovery_capabilities.sql (tests compare the schemas).
-- (Supersedes the note in 0007: capabilities are cached here rather than derived on every run;
-- measured in BENCHMARKS.md "Discovery".)
-- Capabilities (discovery.md §2) are derived from nodes and edges by agentry-core and cached
-- on the workflow. Any change to a workflow's nodes or edges, by whatever path, clears the
-- cache and bumps the version in the same transaction (these triggers); discovery recomputes
-- cleared rows and writes them back only if the version is still the one it read.
ALTER TABLE workflows ADD COLUMN capabilities TEXT;
ALTER TABLE workflows ADD COLUMN capabilities_version BIGINT NOT NULL DEFAULT 0;
CREATE TRIGGER nodes_caps_insert AFTER INSERT ON nodes BEGIN
    UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1 WHERE id = new.workflow_id;
END;
CREATE TRIGGER nodes_caps_update AFTER UPDATE ON nodes BEGIN
    UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1 WHERE id = new.workflow_id;
END;
CREATE TRIGGER nodes_caps_delete AFTER DELETE ON nodes BEGIN
    UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1 WHERE id = old.workflow_id;
END;
CREATE TRIGGER edges_caps_insert AFTER INSERT ON edges BEGIN
    UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1 WHERE id = new.workflow_id;
END;
CREATE TRIGGER edges_caps_update AFTER UPDATE ON edges BEGIN
    UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1 WHERE id = new.workflow_id;
END;
CREATE TRIGGER edges_caps_delete AFTER DELETE ON edges BEGIN
    UPDATE workflows SET capabilities = NULL, capabilities_version = capabilities_version + 1 WHERE id = old.workflow_id;
END;
