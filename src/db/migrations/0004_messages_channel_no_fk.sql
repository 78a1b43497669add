ALTER TABLE "messages" DROP CONSTRAINT "messages_channel_id_channels_id_fk";
