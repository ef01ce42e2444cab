-- Queue privileges (issue 12): produce, consume, observe; who may grant; the
-- view coord.queue_tasks; coord.task() for observers; pg_monitor.
CREATE FUNCTION regress.grant_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(g::text, ';' ORDER BY g.queue, g.privilege, g.role)
                         FROM coord.queue_grants g), '') ||
               COALESCE((SELECT string_agg(t::text, ';' ORDER BY t.id) FROM coord.tasks t), ''))
$$;
CREATE ROLE regress_qp_owner LOGIN;
CREATE ROLE regress_qp_app LOGIN;
CREATE ROLE regress_qp_member LOGIN;
CREATE ROLE regress_qp_mon LOGIN;
GRANT coord_user TO regress_qp_owner, regress_qp_app, regress_qp_member;
GRANT regress_qp_app TO regress_qp_member;
GRANT pg_monitor TO regress_qp_mon;

SET ROLE regress_qp_owner;
SELECT coord.queue_create('qp:jobs') AS created;
SELECT coord.enqueue('qp:jobs', '{"secret": 1}') AS owner_task \gset
RESET ROLE;

-- Without a grant: no enqueue, no claim, no reading (42501), nothing changed.
SELECT regress.grant_digest() AS digest \gset
SET ROLE regress_qp_app;
SELECT regress.error_of($$SELECT coord.enqueue('qp:jobs', '{}')$$);
SELECT regress.error_of($$SELECT coord.enqueue('qp:jobs', '{}', dedupe_key => 'k')$$);
SELECT regress.error_of($$SELECT count(*) FROM coord.claim('qp:jobs', 'w')$$);
SELECT regress.error_of(format('SELECT count(*) FROM coord.task(%s)', :owner_task));
SELECT count(*) AS visible_tasks FROM coord.queue_tasks;
-- Only the creator or coord_admin grants.
SELECT regress.error_of($$SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', 'produce')$$);
RESET ROLE;
SELECT regress.grant_digest() = :'digest' AS unchanged;

-- Bad arguments: nothing granted.
SET ROLE regress_qp_owner;
SELECT regress.error_of($$SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', 'read')$$);
SELECT regress.error_of($$SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', NULL)$$);
SELECT regress.error_of($$SELECT coord.queue_grant('qp:jobs', NULL, 'produce')$$);
SELECT regress.error_of($$SELECT coord.queue_grant('qp:nope', 'regress_qp_app', 'produce')$$);
RESET ROLE;
SELECT regress.grant_digest() = :'digest' AS unchanged;

-- produce and consume to regress_qp_app: it and its member may enqueue and claim.
SET ROLE regress_qp_owner;
SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', 'produce') AS granted;
SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', 'produce') AS granted_again;
SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', 'consume') AS granted;
RESET ROLE;
SET ROLE regress_qp_app;
SELECT coord.enqueue('qp:jobs', '{"from": "app"}') AS app_task \gset
SELECT count(*) AS visible_tasks FROM coord.queue_tasks;
RESET ROLE;
SET ROLE regress_qp_member;
SELECT coord.enqueue('qp:jobs', '{"from": "member"}') > 0 AS member_enqueued;
SELECT count(*) AS member_claimed FROM coord.claim('qp:jobs', 'w', batch => 10);
-- The claims handed out the payloads: the member reads the tasks it claimed,
-- but another task of the queue only with observe.
SELECT count(*) AS claimed_task_readable FROM coord.task(:owner_task);
RESET ROLE;
SET ROLE regress_qp_owner;
SELECT coord.enqueue('qp:jobs', '{"secret": 2}') AS unclaimed_task \gset
RESET ROLE;
SET ROLE regress_qp_member;
SELECT regress.error_of(format('SELECT count(*) FROM coord.task(%s)', :unclaimed_task)) LIKE '42501%' AS unclaimed_task_hidden;
RESET ROLE;

-- observe: coord.queue_tasks and coord.task() of every task of the queue.
SET ROLE regress_qp_owner;
SELECT coord.queue_grant('qp:jobs', 'regress_qp_app', 'observe') AS granted;
RESET ROLE;
SET ROLE regress_qp_member;
SELECT queue, state, payload FROM coord.queue_tasks ORDER BY id;
SELECT payload FROM coord.task(:owner_task);
RESET ROLE;

-- revoke: enqueue refused again; false when it was not granted.
SET ROLE regress_qp_owner;
SELECT coord.queue_revoke('qp:jobs', 'regress_qp_app', 'produce') AS revoked;
SELECT coord.queue_revoke('qp:jobs', 'regress_qp_app', 'produce') AS revoked_again;
RESET ROLE;
SET ROLE regress_qp_app;
SELECT regress.error_of($$SELECT coord.enqueue('qp:jobs', '{}')$$);
RESET ROLE;
SELECT queue, role, privilege, granted_by FROM coord.queue_grants ORDER BY queue, privilege, role;

-- pg_monitor reads the counts, not the tasks.
SET ROLE regress_qp_mon;
SELECT queue, pending, processing FROM coord.queues WHERE queue = 'qp:jobs';
SELECT queue, pending, processing FROM coord.queue_stats WHERE queue = 'qp:jobs';
SELECT regress.error_of($$SELECT count(*) FROM coord.queue_tasks$$);
SELECT regress.error_of($$SELECT coord.enqueue('qp:jobs', '{}')$$);
RESET ROLE;

-- Dropping the queue drops its grants.
SELECT coord.queue_drop('qp:jobs', force => true) AS tasks_dropped;
SELECT count(*) AS grants_left FROM coord.queue_grants WHERE queue = 'qp:jobs';

DROP FUNCTION regress.grant_digest();
DROP ROLE regress_qp_owner, regress_qp_app, regress_qp_member, regress_qp_mon;
