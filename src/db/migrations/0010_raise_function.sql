-- Raises an error from inside a statement (SQLSTATE OL409, the message is the given code), so a
-- pipelined statement that finds a check failed aborts its whole transaction: its COMMIT, already
-- sent behind it, then rolls back. Used by routing: an operator filled up by another router between
-- a pass reading their load and locking them.
CREATE FUNCTION "omniline_raise"(code text) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION '%', code USING ERRCODE = 'OL409';
END
$$;
