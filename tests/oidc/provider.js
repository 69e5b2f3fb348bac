// A real OpenID Connect provider for the single sign-on tests: panva's oidc-provider
// (OpenID Certified), with its own development login and consent pages.
//
// Usage: node provider.js CONFIG_JSON
//   CONFIG_JSON = {"port": 0, "clients": [{"client_id", "client_secret", "redirect_uris"}],
//                  "accounts": {"alice": {"email": "...", "email_verified": true, "name": "..."}}}
// The login page accepts any password for a login name listed in "accounts". The process
// prints "ready <issuer>" once it listens; it stops on SIGTERM.
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const accounts = config.accounts || {};

const server = http.createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: (config.clients || []).map((client) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      ...client,
    })),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    },
    async findAccount(ctx, sub) {
      const account = accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: sub, ...account };
        },
      };
    },
    // Keys are made at start-up: nothing secret is kept in the repository.
    cookies: { keys: [Math.random().toString(36).slice(2)] },
  });
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());
  console.log(`ready ${issuer}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
