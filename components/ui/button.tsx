import type { ButtonHTMLAttributes } from "react";
import { cn } from "./cn.ts";

const VARIANTS = {
  primary: "bg-accent text-white hover:bg-accent-hover disabled:bg-zinc-300",
  secondary: "bg-white text-ink border border-line hover:bg-zinc-50 disabled:text-zinc-400",
  danger: "bg-white text-red-700 border border-red-200 hover:bg-red-50 disabled:text-zinc-400",
  ghost: "text-muted hover:bg-zinc-100 hover:text-ink",
};

export function Button({
  variant = "primary",
  className,
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: keyof typeof VARIANTS }) {
  return (
    <button
      className={cn(
        "inline-flex h-8 items-center justify-center gap-1.5 rounded-md px-3 text-[13px] font-medium transition-colors disabled:cursor-not-allowed",
        VARIANTS[variant],
        className,
      )}
      {...props}
    />
  );
}
