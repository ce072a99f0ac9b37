
/*
 * Copyright (C) 2026, the upbot authors
 *
 * Times written in the configuration: an absolute time (ISO 8601 with an
 * offset, or unix seconds), a UTC offset, a daily window "HH:MM-HH:MM",
 * a rate "Nr/s" or "Nr/m".
 * Pure: no locale, no time zone database, no libc time functions, so a
 * time means the same on every host.
 */


#include "ngx_http_upbot.h"


#define NGX_HTTP_UPBOT_MAX_OFFSET  (14 * 3600)


static ngx_int_t ngx_http_upbot_number(u_char **pp, u_char *last,
    ngx_uint_t n, ngx_uint_t *value);
static ngx_int_t ngx_http_upbot_clock(u_char **pp, u_char *last,
    ngx_uint_t sep, ngx_uint_t *value, const char **why);
static time_t ngx_http_upbot_days(ngx_uint_t y, ngx_uint_t m, ngx_uint_t d);


/*
 * "YYYY-MM-DDThh:mm:ss" and an offset ("Z", "+HH:MM", "+HHMM"), or unix
 * seconds: the unix time, or NGX_ERROR with *why set.
 */

time_t
ngx_http_upbot_parse_time(u_char *p, size_t len, const char **why)
{
    u_char      *last;
    time_t       t;
    ngx_int_t    offset;
    ngx_uint_t   y, m, d, s;

    static ngx_uint_t  mdays[] = { 31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31 };

    last = p + len;

    *why = "expected YYYY-MM-DDThh:mm:ss and an offset (+HH:MM or Z), "
           "or unix seconds";

    if (len && ngx_strlchr(p, last, '-') == NULL
        && ngx_strlchr(p, last, 'T') == NULL)
    {
        t = ngx_atotm(p, len);

        if (t == 0) {
            *why = "the time must be after 1970";
        }

        return t > 0 ? t : NGX_ERROR;
    }

    if (ngx_http_upbot_number(&p, last, 4, &y) != NGX_OK
        || p == last || *p++ != '-'
        || ngx_http_upbot_number(&p, last, 2, &m) != NGX_OK
        || p == last || *p++ != '-'
        || ngx_http_upbot_number(&p, last, 2, &d) != NGX_OK
        || p == last || (*p != 'T' && *p != 't'))
    {
        return NGX_ERROR;
    }

    p++;

    if (y < 1970) {
        *why = "the year must be 1970 or later";
        return NGX_ERROR;
    }

    if (m < 1 || m > 12) {
        *why = "the month must be 01 to 12";
        return NGX_ERROR;
    }

    if (d < 1
        || d > mdays[m - 1] + (m == 2 && y % 4 == 0
                               && (y % 100 != 0 || y % 400 == 0)))
    {
        *why = "no such day in that month";
        return NGX_ERROR;
    }

    if (ngx_http_upbot_clock(&p, last, 1, &s, why) != NGX_OK) {
        return NGX_ERROR;
    }

    offset = ngx_http_upbot_parse_offset(p, last - p, why);
    if (offset == NGX_ERROR) {
        return NGX_ERROR;
    }

    t = ngx_http_upbot_days(y, m, d) * 86400 + s - offset;

    if (t <= 0) {
        *why = "the time must be after 1970";
        return NGX_ERROR;
    }

    return t;
}


/*
 * "Nr/s" or "Nr/m", N from 1 to NGX_HTTP_UPBOT_RATE_MAX, as limit_req
 * writes rates: in thousandths of a request a second, or NGX_ERROR.
 */

ngx_int_t
ngx_http_upbot_parse_rate(u_char *p, size_t len)
{
    ngx_int_t  n, scale;

    if (len <= 3 || p[len - 3] != 'r' || p[len - 2] != '/') {
        return NGX_ERROR;
    }

    switch (p[len - 1]) {
    case 's':
        scale = 1;
        break;
    case 'm':
        scale = 60;
        break;
    default:
        return NGX_ERROR;
    }

    n = ngx_atoi(p, len - 3);

    if (n == NGX_ERROR || n == 0 || n > NGX_HTTP_UPBOT_RATE_MAX) {
        return NGX_ERROR;
    }

    return n * 1000 / scale;
}


/*
 * "Z", "+HH:MM", "-HH:MM" or "+HHMM", up to 14 hours: seconds east of
 * UTC, or NGX_ERROR with *why set.
 */

ngx_int_t
ngx_http_upbot_parse_offset(u_char *p, size_t len, const char **why)
{
    u_char      *last;
    ngx_int_t    sign;
    ngx_uint_t   h, m;

    last = p + len;

    if (len == 1 && (*p == 'Z' || *p == 'z')) {
        return 0;
    }

    *why = "expected an offset: +HH:MM, -HH:MM or Z";

    if (len == 0 || (*p != '+' && *p != '-')) {
        return NGX_ERROR;
    }

    sign = (*p++ == '-') ? -1 : 1;

    if (ngx_http_upbot_number(&p, last, 2, &h) != NGX_OK) {
        return NGX_ERROR;
    }

    if (p < last && *p == ':') {
        p++;
    }

    if (ngx_http_upbot_number(&p, last, 2, &m) != NGX_OK || p != last) {
        return NGX_ERROR;
    }

    if (m > 59 || h * 3600 + m * 60 > NGX_HTTP_UPBOT_MAX_OFFSET) {
        *why = "an offset is at most 14:00";
        return NGX_ERROR;
    }

    return sign * (ngx_int_t) (h * 3600 + m * 60);
}


/*
 * "HH:MM-HH:MM": the seconds of the day it opens and closes; a window that
 * closes before it opens runs past midnight, "24:00" closes at the end of
 * the day.  NGX_ERROR with *why set.
 */

ngx_int_t
ngx_http_upbot_parse_hours(u_char *p, size_t len, ngx_uint_t *opens,
    ngx_uint_t *closes, const char **why)
{
    u_char  *last;

    last = p + len;

    /* the clock says what is out of range, else this stands */
    *why = "expected HH:MM-HH:MM";

    if (ngx_http_upbot_clock(&p, last, 0, opens, why) != NGX_OK
        || p == last || *p++ != '-'
        || ngx_http_upbot_clock(&p, last, 0, closes, why) != NGX_OK
        || p != last)
    {
        return NGX_ERROR;
    }

    /* the clock lets "24:00" pass: it may only close a window */

    if (*opens == 24 * 60) {
        *why = "a window opens at 00:00 to 23:59";
        return NGX_ERROR;
    }

    if (*opens == *closes) {
        *why = "the window is empty";
        return NGX_ERROR;
    }

    *opens *= 60;
    *closes *= 60;

    return NGX_OK;
}


/* whether the window [opens, closes) of the day holds "now" at "offset" */

ngx_uint_t
ngx_http_upbot_within(ngx_uint_t opens, ngx_uint_t closes, time_t now,
    ngx_int_t offset)
{
    ngx_uint_t  second;

    second = (ngx_uint_t) (((now + offset) % 86400 + 86400) % 86400);

    if (opens < closes) {
        return second >= opens && second < closes;
    }

    return second >= opens || second < closes;
}


/* exactly n digits */

static ngx_int_t
ngx_http_upbot_number(u_char **pp, u_char *last, ngx_uint_t n,
    ngx_uint_t *value)
{
    u_char  *p;

    p = *pp;
    *value = 0;

    if ((size_t) (last - p) < n) {
        return NGX_ERROR;
    }

    while (n--) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        *value = *value * 10 + *p++ - '0';
    }

    *pp = p;

    return NGX_OK;
}


/*
 * "hh:mm", and ":ss" with "sec": seconds of the day, or minutes without.
 * Hour 24 passes (only "24:00" as a window's end, said by the caller).
 */

static ngx_int_t
ngx_http_upbot_clock(u_char **pp, u_char *last, ngx_uint_t sec,
    ngx_uint_t *value, const char **why)
{
    ngx_uint_t  h, m, s;

    s = 0;

    if (ngx_http_upbot_number(pp, last, 2, &h) != NGX_OK
        || *pp == last || *(*pp)++ != ':'
        || ngx_http_upbot_number(pp, last, 2, &m) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sec
        && (*pp == last || *(*pp)++ != ':'
            || ngx_http_upbot_number(pp, last, 2, &s) != NGX_OK))
    {
        return NGX_ERROR;
    }

    if (h > 24 || (h == 24 && (sec || m))) {
        *why = "the hour must be 00 to 23";
        return NGX_ERROR;
    }

    if (m > 59) {
        *why = "minutes must be 00 to 59";
        return NGX_ERROR;
    }

    if (s > 59) {
        *why = "seconds must be 00 to 59";
        return NGX_ERROR;
    }

    *value = sec ? h * 3600 + m * 60 + s : h * 60 + m;

    return NGX_OK;
}


/* days from 1970-01-01 to a valid date of 1970 or later */

static time_t
ngx_http_upbot_days(ngx_uint_t y, ngx_uint_t m, ngx_uint_t d)
{
    time_t      days;
    ngx_uint_t  leap;

    /* the days before each month in a common year */
    static ngx_uint_t  before[] = { 0, 31, 59, 90, 120, 151,
                                    181, 212, 243, 273, 304, 334 };

    leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

    /* leap days in the years 1970 .. y - 1: those up to y - 1, less 1969's */

    days = (time_t) (y - 1970) * 365
           + (time_t) ((y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400)
           - (1969 / 4 - 1969 / 100 + 1969 / 400);

    return days + before[m - 1] + (m > 2 && leap) + d - 1;
}
