-- A run store written by autopack at commit 23128ac, before queries returned typed rows (schema
-- version 1): tests/test_store.py reads it with today's RunStore. Made with sqlite3's iterdump.
BEGIN TRANSACTION;
CREATE TABLE attempts (
    attempt_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    model TEXT NOT NULL,
    complexity TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'running',
    error_category TEXT,
    message TEXT,
    normalized_message TEXT,
    reply_hash TEXT,
    patch TEXT,
    gate_tail TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    FOREIGN KEY (run_id, phase_id) REFERENCES phases(run_id, phase_id) ON DELETE CASCADE
);
INSERT INTO "attempts" VALUES(1,'r1','p1',1,'glm-4.6','low','failed','ci_fail','1 failed','1 failed','h1','+x
','tail',1780000006.0,1780000009.0);
INSERT INTO "attempts" VALUES(2,'r1','p1',2,'claude-sonnet-4-5','low','approved',NULL,NULL,NULL,NULL,'+y
','',1780000014.0,1780000016.0);
INSERT INTO "attempts" VALUES(3,'r1','p2',1,'glm-4.6','medium','interrupted',NULL,NULL,NULL,NULL,NULL,NULL,1780000022.0,1780000024.0);
CREATE TABLE events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    phase_id TEXT,
    kind TEXT NOT NULL,
    data_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
INSERT INTO "events" VALUES(1,'r1',NULL,'run_created','{"phases": 2, "project": "calc"}',1780000001.0);
INSERT INTO "events" VALUES(2,'r1',NULL,'workspace_ready','{"base_branch": "main"}',1780000003.0);
INSERT INTO "events" VALUES(3,'r1','p1','phase_state','{"reason": "phase started", "state": "BUILDING", "start_commit": "abc123"}',1780000005.0);
INSERT INTO "events" VALUES(4,'r1','p1','attempt_started','{"attempt": 1, "model": "glm-4.6", "complexity": "low"}',1780000007.0);
INSERT INTO "events" VALUES(5,'r1','p1','attempt_finished','{"attempt": 1, "outcome": "failed", "error_category": "ci_fail", "message": "1 failed"}',1780000010.0);
INSERT INTO "events" VALUES(6,'r1','p1','phase_replanned','{"revision": 1, "reason": "approach flaw", "diff": "+scope", "decided_by": "planner", "state": "QUEUED"}',1780000013.0);
INSERT INTO "events" VALUES(7,'r1','p1','attempt_started','{"attempt": 2, "model": "claude-sonnet-4-5", "complexity": "low"}',1780000015.0);
INSERT INTO "events" VALUES(8,'r1','p1','attempt_finished','{"attempt": 2, "outcome": "approved", "error_category": null, "message": ""}',1780000017.0);
INSERT INTO "events" VALUES(9,'r1','p1','phase_complete','{"reason": "approved", "state": "COMPLETE", "commit_sha": "def456"}',1780000019.0);
INSERT INTO "events" VALUES(10,'r1','p2','phase_state','{"state": "BUILDING"}',1780000021.0);
INSERT INTO "events" VALUES(11,'r1','p2','attempt_started','{"attempt": 1, "model": "glm-4.6", "complexity": "medium"}',1780000023.0);
INSERT INTO "events" VALUES(12,'r1','p2','attempt_interrupted','{"attempt": 1}',1780000025.0);
INSERT INTO "events" VALUES(13,'r1',NULL,'run_interrupted','{"signal": "SIGINT", "status": "INTERRUPTED", "stop_reason": "interrupted"}',1780000027.0);
CREATE TABLE llm_calls (
    call_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    phase_id TEXT,
    attempt_id INTEGER,
    role TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    tokens_cached INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    stop_reason TEXT,
    ok INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    created_at REAL NOT NULL
);
INSERT INTO "llm_calls" VALUES(1,'r1','p1',1,'builder','glm','glm-4.6',100,20,0,0.001,0.0,NULL,1,NULL,1780000008.0);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
CREATE TABLE phase_revisions (
    run_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    spec_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    diff TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_id, phase_id, revision),
    FOREIGN KEY (run_id, phase_id) REFERENCES phases(run_id, phase_id) ON DELETE CASCADE
);
INSERT INTO "phase_revisions" VALUES('r1','p1',0,'{"id": "p1", "name": "add mul", "complexity": "low"}','initial plan',NULL,1780000000.0);
INSERT INTO "phase_revisions" VALUES('r1','p2',0,'{"id": "p2", "name": "docs", "complexity": "medium"}','initial plan',NULL,1780000000.0);
INSERT INTO "phase_revisions" VALUES('r1','p1',1,'{"id": "p1", "name": "add mul", "complexity": "low", "scope": ["calc.py"]}','approach flaw','+scope',1780000011.0);
CREATE TABLE phases (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    phase_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    complexity TEXT NOT NULL,
    start_commit TEXT,
    commit_sha TEXT,
    model TEXT,
    replans INTEGER NOT NULL DEFAULT 0,
    doctor_calls INTEGER NOT NULL DEFAULT 0,
    execute_fixes INTEGER NOT NULL DEFAULT 0,
    hint TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (run_id, phase_id)
);
INSERT INTO "phases" VALUES('r1','p1',0,'add mul','COMPLETE',1,'low','abc123','def456',NULL,1,0,0,NULL,1780000018.0);
INSERT INTO "phases" VALUES('r1','p2',1,'docs','BUILDING',0,'medium',NULL,NULL,NULL,0,0,0,NULL,1780000020.0);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    goal TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    plan_path TEXT,
    project_dir TEXT,
    status TEXT NOT NULL,
    stop_reason TEXT,
    branch TEXT,
    base_commit TEXT,
    worktree TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
INSERT INTO "runs" VALUES('r1','calc','Add mul','{"project": "calc"}','plan.yaml','/work/calc','INTERRUPTED','interrupted','autopack/r1','abc123','/work/wt',1780000000.0,1780000026.0);
CREATE INDEX events_run ON events(run_id, event_id);
CREATE INDEX events_kind ON events(run_id, kind, phase_id);
CREATE INDEX attempts_run ON attempts(run_id, phase_id);
CREATE INDEX calls_run ON llm_calls(run_id);
CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('events',13);
INSERT INTO "sqlite_sequence" VALUES('attempts',3);
INSERT INTO "sqlite_sequence" VALUES('llm_calls',1);
COMMIT;
