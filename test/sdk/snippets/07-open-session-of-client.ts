const client = await System.lines.clients.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._username.eq("telegram_username"),
    ))
    .first();
const session = await System.lines.sessions.search()
    .where((f,c) => c.and(
        f.__deletedAt.eq(null),
        f._clients.all([client]),
        f._state.neq(LineSessionState.Closed),
    ))
    .first();
