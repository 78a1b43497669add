import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

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
});
