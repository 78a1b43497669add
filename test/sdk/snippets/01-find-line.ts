const line = await System.lines.lines.search()
    .where((f, g) => g.and(
        f.__deletedAt.eq(null),
        f.__name.eq("some line"),
    ))
    .first();
