const session = await System.lines.sessions.search()
    .where((f,c) => c.and(
        f.__deletedAt.eq(null),
        f.__id.eq(Context.data.sessionId!),
    ))
    .first();
const lastMessage = await session.getLastMessage();
