const contact = Context.data.contact!;
const client = await System.lines.clients.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f._username.eq("telegram_username"),
    ))
    .first();
client.data._applicationItem = contact;
await client.save();
