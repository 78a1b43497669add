-- Nothing reads sessions by (client_id, started_at): a client's sessions are searched through
-- client_ids (GIN) and a chain through sessions_chain_idx. One index less to write on every state change.
DROP INDEX "sessions_client_started_idx";
