"use client";
import { createContext, useContext } from "react";

export type Me = { name: string; role: "viewer" | "editor" | "admin"; mustChangePassword?: boolean };
const RANK = { viewer: 0, editor: 1, admin: 2 } as const;

export const MeContext = createContext<Me>({ name: "", role: "viewer" });

export function useMe() {
  return useContext(MeContext);
}

/** Whether the signed-in user may use a control; the server checks again on every call. */
export function useCan(role: Me["role"]) {
  return RANK[useMe().role] >= RANK[role];
}

export const needsRole = (role: Me["role"]) => `Needs the ${role} role`;
