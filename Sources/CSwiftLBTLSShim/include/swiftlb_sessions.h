#ifndef SWIFTLB_SESSIONS_H
#define SWIFTLB_SESSIONS_H
/* The newest TLS session a client context got from its server, offered to the next connection
 * to it (HAProxy reuses sessions towards a server the same way; `no-ssl-reuse` turns it off).
 * OpenSSL hands new sessions (TLS 1.2 at the end of a handshake, TLS 1.3 with each ticket) to a
 * callback, from any event loop, hence the mutex. A TLS 1.3 session is used once, as RFC 8446
 * C.4 asks of clients (the server sends a fresh ticket on each resumption); a TLS 1.2 session
 * is offered until a newer one replaces it. */
#include <openssl/ssl.h>

typedef struct swiftlb_session_slot swiftlb_session_slot;

swiftlb_session_slot *swiftlb_session_slot_new(void);
void swiftlb_session_slot_free(swiftlb_session_slot *slot);
/* Makes the client context `ctx` keep its new sessions in `slot`. Returns 1 on success. */
int swiftlb_session_slot_attach(swiftlb_session_slot *slot, SSL_CTX *ctx);
/* Offers the kept session, if any, to the new connection `ssl` (only if made under the SNI `ssl`
 * asks for: a server's `sni EXPRESSION` varies it). */
void swiftlb_session_slot_offer(swiftlb_session_slot *slot, SSL *ssl);
/* Drops the kept session (the server's trust changed: the next connection verifies afresh). */
void swiftlb_session_slot_forget(swiftlb_session_slot *slot);
#endif
