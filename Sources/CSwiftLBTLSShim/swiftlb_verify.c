#include "swiftlb_verify.h"
#include <openssl/x509v3.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <pthread.h>

typedef struct { uint64_t crt_ignored, ca_ignored; } policy;

static int ctx_index = -1, ssl_index = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void make_indexes(void) {
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Packed in the SSL's ex_data pointer: bits 0-15 the certificate error + 1, 16-31 the CA error
 * + 1, 32-47 the CA error depth (0 means nothing recorded). */
static uintptr_t recorded(SSL *ssl) { return (uintptr_t)SSL_get_ex_data(ssl, ssl_index); }

static int verify_callback(int ok, X509_STORE_CTX *store) {
    if (ok) return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl) return ok;
    policy *p = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    int err = X509_STORE_CTX_get_error(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    uintptr_t bits = recorded(ssl);
    if (depth > 0) {
        if (((bits >> 16) & 0xffff) == 0 && sizeof(uintptr_t) >= 8)
            bits |= ((uintptr_t)((err + 1) & 0xffff) << 16) | ((uintptr_t)(depth & 0xffff) << 32);
        SSL_set_ex_data(ssl, ssl_index, (void *)bits);
        if (p && err < 64 && (p->ca_ignored & (1ULL << err))) { ERR_clear_error(); return 1; }
        return 0;
    }
    if ((bits & 0xffff) == 0) bits |= (uintptr_t)((err + 1) & 0xffff);
    SSL_set_ex_data(ssl, ssl_index, (void *)bits);
    if (p && err < 64 && (p->crt_ignored & (1ULL << err))) { ERR_clear_error(); return 1; }
    return 0;
}

int swiftlb_verify_attach(SSL_CTX *ctx, int mode, uint64_t crt_ignored, uint64_t ca_ignored) {
    pthread_once(&once, make_indexes);
    if (ctx_index < 0 || ssl_index < 0) return 0;
    policy *p = malloc(sizeof *p);
    if (!p) return 0;
    p->crt_ignored = crt_ignored;
    p->ca_ignored = ca_ignored;
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, p)) { free(p); return 0; }
    SSL_CTX_set_verify(ctx, mode, verify_callback);
    return 1;
}

void swiftlb_verify_adopt(SSL *ssl, SSL_CTX *ctx) {
    SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
    SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
    SSL_clear_options(ssl, SSL_get_options(ssl) ^ SSL_CTX_get_options(ctx));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
    SSL_set_security_level(ssl, SSL_CTX_get_security_level(ctx));
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
    STACK_OF(X509_NAME) *names = SSL_CTX_get_client_CA_list(ctx);
    if (names) SSL_set_client_CA_list(ssl, SSL_dup_CA_list(names));
}

void swiftlb_verify_errors(const SSL *ssl, int *crt_err, int *ca_err, int *ca_depth) {
    uintptr_t bits = ssl_index < 0 ? 0 : (uintptr_t)SSL_get_ex_data(ssl, ssl_index);
    int crt = (int)(bits & 0xffff), ca = (int)((bits >> 16) & 0xffff);
    *crt_err = crt ? crt - 1 : 0;
    *ca_err = ca ? ca - 1 : 0;
    *ca_depth = sizeof(uintptr_t) >= 8 ? (int)((bits >> 32) & 0xffff) : 0;
}

void swiftlb_verify_detach(SSL_CTX *ctx) {
    if (ctx_index < 0) return;
    policy *p = SSL_CTX_get_ex_data(ctx, ctx_index);
    SSL_CTX_set_ex_data(ctx, ctx_index, NULL);
    free(p);
}

int swiftlb_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return (int)SSL_CTX_set1_groups_list(ctx, list); }
int swiftlb_SSL_set1_groups_list(SSL *ssl, const char *list) { return (int)SSL_set1_groups_list(ssl, list); }
int swiftlb_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
int swiftlb_SSL_CTX_set_min_proto_version_any(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
int swiftlb_SSL_CTX_set_dh_auto(SSL_CTX *ctx) { return (int)SSL_CTX_set_dh_auto(ctx, 1); }
X509 *swiftlb_SSL_get_peer_certificate(const SSL *ssl) { return SSL_get1_peer_certificate(ssl); }
