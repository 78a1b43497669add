const channel = await System.lines.channels.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._state.eq(LineChannelState.active),
    ))
    .first();
await channel.disconnect();
