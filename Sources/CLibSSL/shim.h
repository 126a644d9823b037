#ifndef SWIFTLB_CLIBSSL_SHIM_H
#define SWIFTLB_CLIBSSL_SHIM_H
/* The system OpenSSL 3 (apt: libssl-dev). Many of its "functions" are macros over
 * SSL_CTX_ctrl and friends, which Swift cannot import: each one SwiftLB needs is wrapped
 * here in a static inline function with a swiftlb_ prefix. Nothing else lives in C. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/ocsp.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static inline long swiftlb_SSL_CTX_set_max_send_fragment(SSL_CTX *ctx, long m) {
    return SSL_CTX_set_max_send_fragment(ctx, m);
}
static inline int swiftlb_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long swiftlb_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long swiftlb_SSL_CTX_sess_set_cache_size(SSL_CTX *ctx, long size) {
    return SSL_CTX_sess_set_cache_size(ctx, size);
}
static inline long swiftlb_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline long swiftlb_SSL_CTX_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg) {
    return SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline long swiftlb_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return SSL_CTX_add_extra_chain_cert(ctx, cert);
}
static inline int swiftlb_SSL_session_reused(SSL *ssl) { return (int)SSL_session_reused(ssl); }
static inline long swiftlb_SSL_CTX_set_options(SSL_CTX *ctx, unsigned long long options) {
    return (long)SSL_CTX_set_options(ctx, options);
}
static inline unsigned long long swiftlb_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline unsigned long long swiftlb_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline unsigned long long swiftlb_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
static inline unsigned long long swiftlb_SSL_OP_CIPHER_SERVER_PREFERENCE(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline long swiftlb_SSL_CTX_set_tlsext_ticket_keys(SSL_CTX *ctx, unsigned char *keys, long length) {
    return SSL_CTX_set_tlsext_ticket_keys(ctx, keys, length);
}
static inline const char *swiftlb_SSL_get_servername(SSL *ssl) {
    return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}
static inline long swiftlb_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long swiftlb_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long swiftlb_SSL_MODE_RELEASE_BUFFERS(void) { return SSL_MODE_RELEASE_BUFFERS; }
static inline long swiftlb_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int yes) { return SSL_CTX_set_read_ahead(ctx, yes); }
/* The ByteBuffer BIO's retry signals (macros over BIO_set_flags / BIO_clear_flags). */
static inline void swiftlb_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void swiftlb_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }
#endif
