CREATE TABLE "answer_times" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"session_id" uuid NOT NULL,
	"line_id" uuid NOT NULL,
	"operator_id" uuid,
	"kind" text NOT NULL,
	"asked_at" timestamp with time zone NOT NULL,
	"answered_at" timestamp with time zone NOT NULL,
	"seconds" double precision NOT NULL
);
--> statement-breakpoint
ALTER TABLE "lines" ADD COLUMN "bot_id" uuid;--> statement-breakpoint
ALTER TABLE "lines" ADD COLUMN "last_routed_operator_id" uuid;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "queued_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "offered_to" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "offered_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "accepted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "declined_by" uuid[] DEFAULT '{}'::uuid[] NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "previous_operator_id" uuid;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "first_assigned_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "last_client_message_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "awaiting_answer_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "status" text DEFAULT 'offline' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "status_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "max_sessions" integer;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "last_assigned_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "connections" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "disconnected_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "answer_times" ADD CONSTRAINT "answer_times_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "answer_times_line_idx" ON "answer_times" USING btree ("line_id","answered_at");--> statement-breakpoint
CREATE INDEX "answer_times_session_idx" ON "answer_times" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "sessions_waiting_idx" ON "sessions" USING btree ("line_id","priority" DESC NULLS LAST,"queued_at") WHERE "sessions"."state" = 'Waiting';--> statement-breakpoint
CREATE INDEX "sessions_closed_at_idx" ON "sessions" USING btree ("line_id","closed_at");