#include "swiftlb_tickets.h"
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 8

typedef struct {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
} ticket_key;

struct swiftlb_ticket_ring {
    pthread_mutex_t lock;
    ticket_key keys[MAX_KEYS];  /* keys[0] is the current one */
    int count;
    int keep;
};

static int ring_index = -1;
static pthread_once_t ring_index_once = PTHREAD_ONCE_INIT;
static void make_ring_index(void) { ring_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

static int random_key(ticket_key *key) {
    return RAND_bytes(key->name, sizeof key->name) == 1 && RAND_bytes(key->aes, sizeof key->aes) == 1
        && RAND_bytes(key->hmac, sizeof key->hmac) == 1;
}

swiftlb_ticket_ring *swiftlb_ticket_ring_new(int keep) {
    swiftlb_ticket_ring *ring = calloc(1, sizeof *ring);
    if (!ring) return NULL;
    pthread_mutex_init(&ring->lock, NULL);
    ring->keep = keep < 1 ? 1 : (keep > MAX_KEYS ? MAX_KEYS : keep);
    if (!random_key(&ring->keys[0])) { free(ring); return NULL; }
    ring->count = 1;
    return ring;
}

void swiftlb_ticket_ring_free(swiftlb_ticket_ring *ring) {
    if (!ring) return;
    pthread_mutex_destroy(&ring->lock);
    OPENSSL_cleanse(ring, sizeof *ring);
    free(ring);
}

int swiftlb_ticket_ring_rotate(swiftlb_ticket_ring *ring) {
    ticket_key fresh;
    if (!random_key(&fresh)) return 0;
    pthread_mutex_lock(&ring->lock);
    int count = ring->count < ring->keep ? ring->count + 1 : ring->keep;
    memmove(&ring->keys[1], &ring->keys[0], (size_t)(count - 1) * sizeof(ticket_key));
    ring->keys[0] = fresh;
    ring->count = count;
    pthread_mutex_unlock(&ring->lock);
    OPENSSL_cleanse(&fresh, sizeof fresh);
    return 1;
}

static int set_keys(const ticket_key *key, unsigned char *iv, EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int enc) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key->hmac, sizeof key->hmac);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "sha256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(mac, params) != 1) return 0;
    if (enc) return EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, key->aes, iv) == 1;
    return EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, key->aes, iv) == 1;
}

/* OpenSSL's contract: encrypting, 1 = done; decrypting, 1 = ok, 2 = ok but renew the
 * ticket, 0 = unknown key (full handshake), -1 = error.
 * TLS 1.3 always renews, as OpenSSL does with its built-in keys: clients use a TLS 1.3 ticket
 * once (RFC 8446 C.4; OpenSSL's client, so wrk and curl, does), so a resumption that sent no
 * new ticket made the client's next connection a full handshake. */
static int ticket_callback(SSL *ssl, unsigned char *key_name, unsigned char *iv, EVP_CIPHER_CTX *cipher,
                           EVP_MAC_CTX *mac, int enc) {
    swiftlb_ticket_ring *ring = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index);
    if (!ring) return -1;
    int result = 0;
    pthread_mutex_lock(&ring->lock);
    if (enc) {
        memcpy(key_name, ring->keys[0].name, 16);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) result = -1;
        else result = set_keys(&ring->keys[0], iv, cipher, mac, 1) ? 1 : -1;
    } else {
        for (int i = 0; i < ring->count; i++) {
            if (memcmp(key_name, ring->keys[i].name, 16) == 0) {
                int renew = i > 0 || SSL_version(ssl) >= TLS1_3_VERSION;
                result = set_keys(&ring->keys[i], iv, cipher, mac, 0) ? (renew ? 2 : 1) : -1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&ring->lock);
    return result;
}

int swiftlb_ticket_ring_attach(swiftlb_ticket_ring *ring, SSL_CTX *ctx) {
    pthread_once(&ring_index_once, make_ring_index);
    if (ring_index < 0 || SSL_CTX_set_ex_data(ctx, ring_index, ring) != 1) return 0;
    return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback) == 1;
}
