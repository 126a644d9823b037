#ifndef SWIFTLB_TICKETS_H
#define SWIFTLB_TICKETS_H
/* Session-ticket keys rotated in memory. OpenSSL calls the ticket callback from inside a
 * handshake, C to C; the key ring it reads is guarded by a mutex because every event loop
 * runs handshakes. The newest key encrypts new tickets; the previous ones still decrypt
 * (and ask OpenSSL to renew the ticket), so rotation never makes a fresh ticket fail.
 * The client side's kept sessions are in swiftlb_sessions.h. */
#include <openssl/ssl.h>

typedef struct swiftlb_ticket_ring swiftlb_ticket_ring;

/* A ring with one random key; keeps `keep` keys in all (the current one included). */
swiftlb_ticket_ring *swiftlb_ticket_ring_new(int keep);
void swiftlb_ticket_ring_free(swiftlb_ticket_ring *ring);
/* A new random current key; the oldest beyond `keep` is forgotten. Returns 1 on success. */
int swiftlb_ticket_ring_rotate(swiftlb_ticket_ring *ring);
/* Makes `ctx` use the ring for its tickets. Returns 1 on success. */
int swiftlb_ticket_ring_attach(swiftlb_ticket_ring *ring, SSL_CTX *ctx);
#endif
