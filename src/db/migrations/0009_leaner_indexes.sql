-- Fewer index entries per change on the hottest writes. Every state change of a session adds a row
-- version, and every version went into every index: the operator and closing-time indexes now hold
-- only the versions they are searched for. domain_events is written with every change and read by
-- nobody by aggregate: its key is enough until something does.
DROP INDEX "domain_events_aggregate_idx";--> statement-breakpoint
DROP INDEX "sessions_operator_idx";--> statement-breakpoint
DROP INDEX "sessions_closed_at_idx";--> statement-breakpoint
CREATE INDEX "sessions_operator_idx" ON "sessions" USING btree ("operator_id","state") WHERE "sessions"."operator_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "sessions_closed_at_idx" ON "sessions" USING btree ("line_id","closed_at") WHERE "sessions"."closed_at" IS NOT NULL;