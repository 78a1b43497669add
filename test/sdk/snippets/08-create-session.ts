const contact = await Context.data.contact.fetch();
const account = contact.data._account[0].login;
const newSession = await System.lines.sessions.create(Context.data.channel, account);
