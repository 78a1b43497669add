const inactiveChannels = await System.lines.channels.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._state.neq(LineChannelState.active),
    ))
    .all();
