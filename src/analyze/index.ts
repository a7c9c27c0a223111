// Every diagnosis rule, in the order `kubewire flags` lists kinds and help shows them:
// one line per rule file (a test fails if a file in src/analyze/ is not listed here).
import type { Rule } from "./lib/rule.js";
import { rule as unauthorized } from "./unauthorized.js";
import { rule as forbidden } from "./forbidden.js";
import { rule as x509Expired } from "./x509-expired.js";
import { rule as x509NotYetValid } from "./x509-not-yet-valid.js";
import { rule as x509UnknownAuthority } from "./x509-unknown-authority.js";
import { rule as x509HostnameMismatch } from "./x509-hostname-mismatch.js";
import { rule as x509SelfSigned } from "./x509-self-signed.js";
import { rule as x509IncompleteChain } from "./x509-incomplete-chain.js";
import { rule as timeout } from "./timeout.js";
import { rule as dns } from "./dns.js";
import { rule as refused } from "./refused.js";
import { rule as reset } from "./reset.js";
import { rule as upstreamLost } from "./upstream-lost.js";
import { rule as throttled } from "./throttled.js";
import { rule as serverError } from "./server-error.js";
import { rule as slow } from "./slow.js";
import { rule as largeList } from "./large-list.js";
import { rule as retryStorm } from "./retry-storm.js";
import { rule as watchExpired } from "./watch-expired.js";
import { rule as relistStorm } from "./relist-storm.js";
import { rule as deprecatedApi } from "./deprecated-api.js";
import { rule as expiringCredentials } from "./expiring-credentials.js";
import { rule as clientTls } from "./client-tls.js";
import { rule as proxyAuth } from "./proxy-auth.js";
import { rule as injected } from "./injected.js";

export const rules: Rule[] = [
  unauthorized,
  forbidden,
  x509Expired,
  x509NotYetValid,
  x509UnknownAuthority,
  x509HostnameMismatch,
  x509SelfSigned,
  x509IncompleteChain,
  timeout,
  dns,
  refused,
  reset,
  upstreamLost,
  throttled,
  serverError,
  slow,
  largeList,
  retryStorm,
  watchExpired,
  relistStorm,
  deprecatedApi,
  expiringCredentials,
  clientTls,
  proxyAuth,
  injected,
];
