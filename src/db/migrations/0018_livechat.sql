CREATE TABLE "livechat_visitors" (
	"channel_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"page_url" text,
	"referer" text,
	"ip" text,
	"coordinates" jsonb,
	"verified" boolean DEFAULT false NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "livechat_visitors_pk" PRIMARY KEY("channel_id","external_id")
);
--> statement-breakpoint
CREATE TABLE "session_ratings" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"line_id" uuid NOT NULL,
	"rating" smallint NOT NULL,
	"comment" text,
	"rated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "session_ratings_rating_ck" CHECK ("rating" BETWEEN 1 AND 5)
);
--> statement-breakpoint
CREATE INDEX "session_ratings_line_idx" ON "session_ratings" USING btree ("line_id","rated_at");
