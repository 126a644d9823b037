#ifndef SWIFTLB_VERIFY_H
#define SWIFTLB_VERIFY_H
/* Client-certificate verification on a `bind … ssl verify optional|required`, as HAProxy does
 * it: the first error met on the client's certificate (depth 0) and on its CA chain (depth > 0)
 * are kept on the connection for ssl_c_err / ssl_c_ca_err / ssl_c_ca_err_depth, and errors listed
 * by `crt-ignore-err` / `ca-ignore-err` (a bit per X509_V_ERR code below 64, all bits for `all`)
 * do not fail the handshake. The policy hangs off the SSL_CTX; the errors off the SSL, packed
 * into the ex_data pointer itself (no allocation per connection). */
#include <openssl/ssl.h>
#include <stdint.h>

/* Attaches the ignore masks to `ctx` and sets `mode` (SSL_VERIFY_*) with our callback.
 * Returns 1 on success. The masks are copied into the context's ex_data. */
int swiftlb_verify_attach(SSL_CTX *ctx, int mode, uint64_t crt_ignored, uint64_t ca_ignored);
/* After an SNI switch to `ctx`: take over its versions, options, security level, verify mode
 * and callback, and its list of acceptable client CAs. */
void swiftlb_verify_adopt(SSL *ssl, SSL_CTX *ctx);
/* The first errors recorded on `ssl`: certificate error, CA error and its depth (0 when none). */
void swiftlb_verify_errors(const SSL *ssl, int *crt_err, int *ca_err, int *ca_depth);
/* Frees the policy of a context made with swiftlb_verify_attach (call before SSL_CTX_free). */
void swiftlb_verify_detach(SSL_CTX *ctx);
/* SSL_CTX_set1_groups_list / SSL_CTX_set1_curves_list are macros. */
int swiftlb_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
int swiftlb_SSL_set1_groups_list(SSL *ssl, const char *list);
int swiftlb_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
int swiftlb_SSL_CTX_set_min_proto_version_any(SSL_CTX *ctx, int version);
/* SSL_CTX_set_tmp_dh replacement: automatic DH parameters of the certificate's size. */
int swiftlb_SSL_CTX_set_dh_auto(SSL_CTX *ctx);
/* SSL_get_peer_certificate is a macro in OpenSSL 3. */
X509 *swiftlb_SSL_get_peer_certificate(const SSL *ssl);
#endif
