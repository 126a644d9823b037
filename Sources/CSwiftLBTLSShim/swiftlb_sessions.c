#include "swiftlb_sessions.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct swiftlb_session_slot {
    pthread_mutex_t lock;
    SSL_SESSION *session;  /* owned: one reference */
    char *name;            /* owned: the SNI the session's connection sent (NULL: none) */
};

static int slot_index = -1;
static pthread_once_t slot_index_once = PTHREAD_ONCE_INIT;
static void make_slot_index(void) { slot_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

swiftlb_session_slot *swiftlb_session_slot_new(void) {
    swiftlb_session_slot *slot = calloc(1, sizeof *slot);
    if (slot) pthread_mutex_init(&slot->lock, NULL);
    return slot;
}

void swiftlb_session_slot_free(swiftlb_session_slot *slot) {
    if (!slot) return;
    if (slot->session) SSL_SESSION_free(slot->session);
    free(slot->name);
    pthread_mutex_destroy(&slot->lock);
    free(slot);
}

/* OpenSSL's new-session callback: returning 1 keeps the reference it hands over. */
static int keep_session(SSL *ssl, SSL_SESSION *session) {
    swiftlb_session_slot *slot = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), slot_index);
    if (!slot || !SSL_SESSION_is_resumable(session)) return 0;
    const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char *name = sent ? strdup(sent) : NULL;
    if (sent && !name) return 0;
    pthread_mutex_lock(&slot->lock);
    SSL_SESSION *old = slot->session;
    char *oldName = slot->name;
    slot->session = session;
    slot->name = name;
    pthread_mutex_unlock(&slot->lock);
    if (old) SSL_SESSION_free(old);
    free(oldName);
    return 1;
}

int swiftlb_session_slot_attach(swiftlb_session_slot *slot, SSL_CTX *ctx) {
    pthread_once(&slot_index_once, make_slot_index);
    if (slot_index < 0 || SSL_CTX_set_ex_data(ctx, slot_index, slot) != 1) return 0;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, keep_session);
    return 1;
}

/* Whether `session` was made for the SNI `ssl` asks for: a server's `sni EXPRESSION` names
 * vary per connection, and a session is not offered under another name (HAProxy's
 * ssl_sock_set_servername drops it the same way). */
static int same_name(const char *kept, SSL *ssl) {
    const char *wanted = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!kept || !wanted) return kept == wanted;
    return strcmp(kept, wanted) == 0;
}

void swiftlb_session_slot_offer(swiftlb_session_slot *slot, SSL *ssl) {
    pthread_mutex_lock(&slot->lock);
    SSL_SESSION *session = slot->session;
    if (session && !same_name(slot->name, ssl)) {
        session = NULL;  /* kept for a connection under its own name */
    } else if (session && SSL_SESSION_get_protocol_version(session) >= TLS1_3_VERSION) {
        slot->session = NULL;  /* single use: the reference moves to us */
    } else if (session) {
        SSL_SESSION_up_ref(session);
    }
    pthread_mutex_unlock(&slot->lock);
    if (session) {
        SSL_set_session(ssl, session);  /* takes its own reference */
        SSL_SESSION_free(session);
    }
}

void swiftlb_session_slot_forget(swiftlb_session_slot *slot) {
    if (!slot) return;
    pthread_mutex_lock(&slot->lock);
    SSL_SESSION *old = slot->session;
    slot->session = NULL;
    pthread_mutex_unlock(&slot->lock);
    if (old) SSL_SESSION_free(old);
}
