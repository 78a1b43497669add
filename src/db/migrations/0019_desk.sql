-- The operator desk: canned replies, per line (line_id) or personal (user_id), inserted with a
-- `/shortcut`. Internal notes need no table: they are messages of type 'note', never sent.
CREATE TABLE "canned_replies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"line_id" uuid REFERENCES "lines"("id"),
	"user_id" uuid REFERENCES "users"("id"),
	"shortcut" text NOT NULL,
	"text" text NOT NULL,
	CONSTRAINT "canned_replies_owner_ck" CHECK (("line_id" IS NULL) <> ("user_id" IS NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "canned_replies_line_uq" ON "canned_replies" ("line_id", lower("shortcut")) WHERE "line_id" IS NOT NULL AND "deleted_at" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "canned_replies_user_uq" ON "canned_replies" ("user_id", lower("shortcut")) WHERE "user_id" IS NOT NULL AND "deleted_at" IS NULL;
