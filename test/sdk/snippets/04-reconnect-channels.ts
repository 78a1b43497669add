// Ищем неактивные каналы разрешённых типов
const channels = await System.lines.channels.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._state.neq(LineChannelState.active),
        f._type.in([
            LineChannelType.inbox,
            LineChannelType.telegramBot,
            LineChannelType.viberbot,
            LineChannelType.livechat,
            LineChannelType.instagram,
        ]),
    ))
    .size(100)
    .all();
for (const channel of channels) {
    await channel.reconnect();
}
