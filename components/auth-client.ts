"use client";
// Sign-in and sign-out only; user management goes through tRPC (roles checked on the server).
import { createAuthClient } from "better-auth/react";

export const authClient = createAuthClient();
