-- An operator's load falling (a session of theirs closed, transferred away or sent back to the queue)
-- waits for a routing pass of the session's line under way, and a pass waits for such changes under
-- way before it reads loads: the pass decides on loads no close can lower before its COMMIT, so every
-- session goes to an operator with the fewest open sessions. The lock is PostgreSQL's advisory lock
-- (20300, hashtext(line id)): shared by the changes, exclusive for the pass (see routing.repository).
-- It is taken before the users row is touched, so a change never holds an operator while it waits.
CREATE OR REPLACE FUNCTION "sessions_operator_load"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  was uuid;
  now_ uuid;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD."state" = 'AssignedToOperator' THEN was := OLD."operator_id"; END IF;
  IF TG_OP <> 'DELETE' AND NEW."state" = 'AssignedToOperator' THEN now_ := NEW."operator_id"; END IF;
  IF was IS NOT DISTINCT FROM now_ THEN RETURN NULL; END IF;
  IF was IS NOT NULL AND TG_OP = 'UPDATE' THEN
    PERFORM pg_advisory_xact_lock_shared(20300, hashtext(OLD."line_id"::text));
  END IF;
  IF was IS NOT NULL AND (now_ IS NULL OR was < now_) THEN
    UPDATE "users" SET "open_sessions" = "open_sessions" - 1 WHERE "id" = was;
    was := NULL;
  END IF;
  IF now_ IS NOT NULL THEN
    UPDATE "users" SET "open_sessions" = "open_sessions" + 1 WHERE "id" = now_;
  END IF;
  IF was IS NOT NULL THEN
    UPDATE "users" SET "open_sessions" = "open_sessions" - 1 WHERE "id" = was;
  END IF;
  RETURN NULL;
END $$;
