-- The account lookups of sessions.create (username, phone, e-mail) each get exactly one usable index.
-- They were partial on live rows, like the (channel, external id) index, so a lookup could use
-- either; a generic plan made while the table was nearly empty chose the latter and then read the
-- whole channel on every call. Now they hold every row with the account, and the lookups drop
-- deleted rows after the index.
DROP INDEX "clients_channel_username_idx";--> statement-breakpoint
DROP INDEX "clients_channel_phone_idx";--> statement-breakpoint
DROP INDEX "clients_channel_email_idx";--> statement-breakpoint
CREATE INDEX "clients_channel_username_idx" ON "clients" USING btree ("channel_id",lower("username")) WHERE "clients"."username" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "clients_channel_phone_idx" ON "clients" USING btree ("channel_id",lower("phone")) WHERE "clients"."phone" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "clients_channel_email_idx" ON "clients" USING btree ("channel_id",lower("email")) WHERE "clients"."email" IS NOT NULL;