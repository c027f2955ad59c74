// A real OAuth2 authorization server on loopback for cairn-server's tests.
// It stands in for GitHub: /authorize redirects straight back with a code
// (no login page), /token checks PKCE, and /userinfo answers like GitHub's
// /user with an immutable numeric `id`.
//
// Prints one JSON line with its base URL, then runs until stdin closes or
// it is killed, so the test that started it controls its lifetime.
import { OAuth2Server } from 'oauth2-mock-server';

const accountId = Number(process.env.CAIRN_TEST_GITHUB_ID ?? '583231');
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.service.on('beforeUserinfo', (response) => {
  response.body = { id: accountId, login: 'octocat' };
  response.statusCode = 200;
});
await server.start(0, '127.0.0.1');
const url = `http://127.0.0.1:${server.address().port}`;
process.stdout.write(JSON.stringify({ url }) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.stop();
  process.exit(0);
});
