/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define COMPANION_NETWORK_ERROR (companion_network_error_quark ())

typedef enum
{
  COMPANION_NETWORK_ERROR_INVALID_ADDRESS,
  COMPANION_NETWORK_ERROR_INVALID_PORT,
} CompanionNetworkError;

GQuark              companion_network_error_quark        (void);

/* Parses "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6), IP literals only. */
GInetSocketAddress *companion_network_parse_listen_address (const char *text,
                                                            GError    **error);
char               *companion_network_address_to_string   (GInetSocketAddress *address);

/* The addresses a phone on the LAN could reach this machine at, best first:
 * non-loopback IPv4, then non-link-local IPv6; loopback when there is none. */
GPtrArray          *companion_network_lan_addresses       (guint16 port);

G_END_DECLS
