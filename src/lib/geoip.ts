/**
 * IP → location, only from a database file the operator configured (OMNILINE_GEOIP_CSV); without
 * one there are no coordinates — never a guess. The file is the IP2Location LITE DB11 CSV (IPv4,
 * free, updated monthly): `"ip_from","ip_to","country_code","country_name","region_name",
 * "city_name","latitude","longitude","zip_code","time_zone"`, addresses as integers, sorted by
 * `ip_from`. Loaded once; a lookup is a binary search.
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { ClientCoordinates } from '../live/operator-events.ts';

interface Range {
  from: number;
  to: number;
  at: ClientCoordinates;
}

function ipv4(address: string): number | null {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!isIPv4(a)) return null;
  return a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export class GeoIp {
  readonly #ranges: Range[] = [];

  constructor(file: string) {
    for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
      if (!line.startsWith('"')) continue;
      const c = line.slice(1, -1).split('","');
      if (c.length < 10) continue;
      const [from, to, code, country, region, city, lat, lon, zip, tz] = c as string[];
      if (code === '-') continue;
      const text = (v: string | undefined) => (v && v !== '-' ? v : null);
      this.#ranges.push({
        from: Number(from),
        to: Number(to),
        at: {
          country_code: text(code),
          country_name: text(country),
          region_name: text(region),
          city: text(city),
          latitude: Number(lat),
          longitude: Number(lon),
          zip_code: text(zip),
          time_zone: text(tz),
        },
      });
    }
    this.#ranges.sort((a, b) => a.from - b.from);
  }

  get size(): number {
    return this.#ranges.length;
  }

  /** The location of an address, or null when the database does not know it (or it is IPv6). */
  lookup(address: string): ClientCoordinates | null {
    const n = ipv4(address);
    if (n === null) return null;
    let lo = 0;
    let hi = this.#ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.#ranges[mid]!;
      if (n < r.from) hi = mid - 1;
      else if (n > r.to) lo = mid + 1;
      else return { ...r.at };
    }
    return null;
  }
}
