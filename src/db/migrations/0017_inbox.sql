-- The inbox channel: a session's title (an e-mail thread's subject).
ALTER TABLE "sessions" ADD COLUMN "title" text;
