ALTER TABLE "users" ADD COLUMN "open_sessions" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE "users" u SET "open_sessions" = (
  SELECT count(*) FROM "sessions" s WHERE s."operator_id" = u."id" AND s."state" = 'AssignedToOperator'
);--> statement-breakpoint
-- An operator's load, kept with every change of a session's state or operator. When a session moves
-- between two operators, the lower id is updated first: concurrent transfers lock in one order.
CREATE FUNCTION "sessions_operator_load"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  was uuid;
  now_ uuid;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD."state" = 'AssignedToOperator' THEN was := OLD."operator_id"; END IF;
  IF TG_OP <> 'DELETE' AND NEW."state" = 'AssignedToOperator' THEN now_ := NEW."operator_id"; END IF;
  IF was IS NOT DISTINCT FROM now_ THEN RETURN NULL; END IF;
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
END $$;--> statement-breakpoint
CREATE TRIGGER "sessions_operator_load" AFTER INSERT OR DELETE OR UPDATE OF "state", "operator_id" ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION "sessions_operator_load"();
