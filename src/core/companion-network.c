/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-network"

#include "config.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "companion-network.h"

G_DEFINE_QUARK (companion-network-error-quark, companion_network_error)

GInetSocketAddress *
companion_network_parse_listen_address (const char *text,
                                        GError    **error)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  const char *port_text;
  guint64 port = 0;

  g_return_val_if_fail (text != NULL, NULL);

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || close[1] != ':')
        {
          g_set_error (error, COMPANION_NETWORK_ERROR, COMPANION_NETWORK_ERROR_INVALID_ADDRESS,
                       "“%s” is not ADDR:PORT: an IPv6 address needs brackets, as in [::1]:%u",
                       text, 47390u);
          return NULL;
        }
      host = g_strndup (text + 1, close - text - 1);
      port_text = close + 2;
    }
  else
    {
      const char *colon = strrchr (text, ':');

      if (colon == NULL || strchr (text, ':') != colon)
        {
          g_set_error (error, COMPANION_NETWORK_ERROR, COMPANION_NETWORK_ERROR_INVALID_ADDRESS,
                       "“%s” is not ADDR:PORT (for example 0.0.0.0:47390 or [::]:47390)", text);
          return NULL;
        }
      host = g_strndup (text, colon - text);
      port_text = colon + 1;
    }

  inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    {
      g_set_error (error, COMPANION_NETWORK_ERROR, COMPANION_NETWORK_ERROR_INVALID_ADDRESS,
                   "“%s” is not an IP address", host);
      return NULL;
    }

  if (!g_ascii_string_to_unsigned (port_text, 10, 0, G_MAXUINT16, &port, NULL))
    {
      g_set_error (error, COMPANION_NETWORK_ERROR, COMPANION_NETWORK_ERROR_INVALID_PORT,
                   "“%s” is not a port number from 0 to 65535", port_text);
      return NULL;
    }

  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, (guint16) port));
}

char *
companion_network_address_to_string (GInetSocketAddress *address)
{
  GInetAddress *inet = g_inet_socket_address_get_address (address);
  g_autofree char *host = g_inet_address_to_string (inet);
  guint16 port = g_inet_socket_address_get_port (address);

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

static int
address_rank (GInetAddress *inet)
{
  if (g_inet_address_get_is_loopback (inet))
    return 3;
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4)
    return 0;
  if (g_inet_address_get_is_site_local (inet))
    return 1;
  return 2;
}

static int
compare_rank (gconstpointer a,
              gconstpointer b)
{
  GInetAddress *ia = g_inet_socket_address_get_address (*(GInetSocketAddress **) a);
  GInetAddress *ib = g_inet_socket_address_get_address (*(GInetSocketAddress **) b);

  return address_rank (ia) - address_rank (ib);
}

GPtrArray *
companion_network_lan_addresses (guint16 port)
{
  GPtrArray *result = g_ptr_array_new_with_free_func (g_object_unref);
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) == 0)
    {
      for (struct ifaddrs *it = list; it != NULL; it = it->ifa_next)
        {
          g_autoptr(GInetAddress) inet = NULL;

          if (it->ifa_addr == NULL || !(it->ifa_flags & IFF_UP))
            continue;
          if (it->ifa_addr->sa_family == AF_INET)
            inet = g_inet_address_new_from_bytes (
                (const guint8 *) &((struct sockaddr_in *) it->ifa_addr)->sin_addr,
                G_SOCKET_FAMILY_IPV4);
          else if (it->ifa_addr->sa_family == AF_INET6)
            inet = g_inet_address_new_from_bytes (
                (const guint8 *) &((struct sockaddr_in6 *) it->ifa_addr)->sin6_addr,
                G_SOCKET_FAMILY_IPV6);
          else
            continue;

          /* Link-local IPv6 needs a scope id that a QR cannot carry. */
          if (g_inet_address_get_is_link_local (inet) || g_inet_address_get_is_loopback (inet))
            continue;
          g_ptr_array_add (result, g_inet_socket_address_new (inet, port));
        }
      freeifaddrs (list);
    }

  if (result->len == 0)
    {
      g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_ptr_array_add (result, g_inet_socket_address_new (loopback, port));
    }

  g_ptr_array_sort (result, compare_rank);
  return result;
}
