// Ищем канал типа telegram
const channel = await System.lines.channels.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._type.eq(LineChannelType.telegram),
    ))
    .first();
// Ищем привязанного к найденному каналу клиента
const client = await System.lines.clients.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._channel.eq(channel),
        f._username.eq("telegram_username"),
    ))
    .first();
