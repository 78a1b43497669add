import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { allVariables, ConfigError, loadConfig } from './config.ts';

describe('config', () => {
  it('defaults to embedded mode on port 8080 with an admin called admin', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.databaseUrl, null);
    assert.equal(c.adminLogin, 'admin');
    assert.match(c.dataDir, /data$/);
    assert.equal(c.databasePoolSize, 10);
    assert.equal(loadConfig({ OMNILINE_DB_POOL_SIZE: '6' }).databasePoolSize, 6);
  });

  it('reports every problem at once, naming the variables', () => {
    assert.throws(
      () =>
        loadConfig({
          PORT: 'eighty',
          DATABASE_URL: 'mysql://x',
          LOG_LEVEL: 'loud',
          OMNILINE_ADMIN_PASSWORD: 'short',
          OMNILINE_DB_POOL_SIZE: '0',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        for (const name of [
          'PORT',
          'DATABASE_URL',
          'LOG_LEVEL',
          'OMNILINE_ADMIN_PASSWORD',
          'OMNILINE_SECRET_KEY',
          'OMNILINE_DB_POOL_SIZE',
        ]) {
          assert.match(text, new RegExp(name));
        }
        return true;
      },
    );
  });

  it('reads the client silence timeout, 5 minutes by default, 0 to never time out', () => {
    assert.equal(loadConfig({}).clientOfflineTimeoutSeconds, 300);
    assert.equal(
      loadConfig({ OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS: '90' }).clientOfflineTimeoutSeconds,
      90,
    );
    assert.equal(loadConfig({ OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS: '0' }).clientOfflineTimeoutSeconds, 0);
    for (const bad of ['-1', 'soon', '604801'])
      assert.throws(
        () => loadConfig({ OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS: bad }),
        /OMNILINE_CLIENT_OFFLINE_TIMEOUT_SECONDS must be an integer from 0 to 604800/,
      );
  });

  it('requires a shared secret key with a PostgreSQL server', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'postgres://localhost/x' }),
      /OMNILINE_SECRET_KEY is required/,
    );
    const c = loadConfig({ DATABASE_URL: 'postgres://localhost/x', OMNILINE_SECRET_KEY: 'k'.repeat(32) });
    assert.equal(c.databaseUrl, 'postgres://localhost/x');
  });

  it('puts the file store under the data dir unless OMNILINE_FILES_DIR says otherwise', () => {
    assert.equal(loadConfig({ OMNILINE_DATA_DIR: '/srv/omni' }).filesDir, path.resolve('/srv/omni/files'));
    assert.equal(loadConfig({ OMNILINE_FILES_DIR: '/mnt/files' }).filesDir, path.resolve('/mnt/files'));
    assert.deepEqual(loadConfig({ OMNILINE_PLUGINS: ' ./a.js, ,./b.ts ' }).plugins, ['./a.js', './b.ts']);
    assert.throws(() => loadConfig({ OMNILINE_PUBLIC_URL: 'ftp://x' }), /OMNILINE_PUBLIC_URL must use http:/);
  });

  it('reads LOG_PRETTY as a switch, unset meaning "when stdout is a terminal"', () => {
    assert.equal(loadConfig({}).logPretty, null);
    assert.equal(loadConfig({ LOG_PRETTY: '1' }).logPretty, true);
    assert.equal(loadConfig({ LOG_PRETTY: 'false' }).logPretty, false);
    assert.throws(() => loadConfig({ LOG_PRETTY: 'maybe' }), /LOG_PRETTY must be 1 or 0/);
  });

  it('declares each variable once, with its default and meaning', () => {
    const names = allVariables().map((v) => v.name);
    assert.equal(new Set(names).size, names.length, `a variable is declared twice: ${names}`);
    for (const name of [
      'OMNILINE_PUBLIC_URL',
      'OMNILINE_FILES_DIR',
      'OMNILINE_PLUGINS',
      'OMNILINE_DB_TIMEOUT_MS',
    ])
      assert.ok(names.includes(name), name);
    for (const v of allVariables()) {
      assert.ok(v.default.length > 0, `${v.name} has no default shown`);
      assert.ok(v.description.length > 0, `${v.name} has no meaning`);
    }
  });
});
