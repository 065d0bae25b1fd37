-- The `workflow_create` agent tool (tools.md §3) is at-least-once: a call in flight at a crash
-- runs again. The workflow it creates carries the call's key (execution, agent node, arguments),
-- written in the same transaction, so the re-run finds it instead of creating a second one.
-- Kept in step with migrations/sqlite/0006_workflow_create_key.sql (tests compare the schemas).

ALTER TABLE workflows ADD COLUMN create_key TEXT;
CREATE UNIQUE INDEX workflows_create_key_idx ON workflows(create_key);
